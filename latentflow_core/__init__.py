"""latentflow_core package."""
