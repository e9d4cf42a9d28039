"""Model packages: Triton-layout model repositories with a signed manifest."""
