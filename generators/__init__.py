"""Generators: script writing (generators.script) and music (generators.music)."""
