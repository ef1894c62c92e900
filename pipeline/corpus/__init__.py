"""Making the embedded speech corpus: voices, synthesized clips, and long test streams."""
