from arrow_events.cli import main

main()
