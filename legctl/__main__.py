from legctl.cli import main

raise SystemExit(main())
