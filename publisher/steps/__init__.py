"""The publish as named steps: read and decide, resolve bases, make images, smoke-test, push, verify."""
