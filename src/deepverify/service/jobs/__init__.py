"""Analysis jobs: the queue (the videos table), running a claimed job, the workers that do."""
