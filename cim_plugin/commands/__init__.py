"""One module per `cim-plugin` subcommand (`add_arguments`, `run`)."""
