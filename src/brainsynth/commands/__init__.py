"""One module per ``brainsynth`` subcommand: ``HELP``, ``add_arguments(parser)``, ``run(args)``.

Keep these modules light: parse arguments, build a config, call into the library, print.
"""
