from serverless_openclaw.cli import main

main()
