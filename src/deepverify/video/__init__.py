"""Reading videos: containers, frame selection, decoding with face detection."""
