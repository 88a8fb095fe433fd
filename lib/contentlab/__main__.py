from contentlab.cli import main

raise SystemExit(main())
