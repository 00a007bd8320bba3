from watchdeck.cli import main

raise SystemExit(main())
