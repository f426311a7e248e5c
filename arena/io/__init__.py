"""arena/io/: what arena writes to disk and reads back. ``files`` (atomic writes, stamped
names), ``checkpoint`` (safetensors weights beside a JSON sidecar, never unpickled), ``runs``
(run folders: config, metrics lines, plots), ``replays`` (saved games as JSON, replayed by
stepping the game) and ``datasets`` (the offline data the supervised scripts load)."""
