"""The experiment plan: what a validated config asks the workflow to run."""
