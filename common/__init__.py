"""Plumbing every app shares and no domain owns: database and file helpers, private storage,
thumbnails, the image-upload check, the reason vocabulary, queue names, worker heartbeats, rate
limits and the 503 handling. It imports no FacePass app (the lowest layer)."""
