"""Publish: the files a listener's app and a person read beside the MP3."""

from nightcast.publish.chapters import chapters_for, podcasting20_chapters
from nightcast.publish.transcript import webvtt

__all__ = ["chapters_for", "podcasting20_chapters", "webvtt"]
