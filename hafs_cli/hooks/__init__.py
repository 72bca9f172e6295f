"""Git hooks built on hafs: install/uninstall with legacy chaining, staged content, hook steps."""
