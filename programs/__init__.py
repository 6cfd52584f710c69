"""The therapy program library: program files as data, validated at load.

Re-exports the public API; see ``schema`` (the file format), ``library`` (loading),
``intensity`` (what the 1-5 setting changes) and ``profile`` (the safety profile).
"""

from programs.intensity import pressure_factor, roller_period_s, roller_speed, scaled_pressure_mmhg
from programs.library import BUILTIN_DIR, describe, load_library, load_program
from programs.profile import Profile, ProfileDecision, check_profile
from programs.schema import CompressionSpec, Phase, Program, ProgramError, RollerSpec

__all__ = [
    "BUILTIN_DIR", "CompressionSpec", "Phase", "Profile", "ProfileDecision", "Program", "ProgramError",
    "RollerSpec", "check_profile", "describe", "load_library", "load_program", "pressure_factor",
    "roller_period_s", "roller_speed", "scaled_pressure_mmhg",
]
