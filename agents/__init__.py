"""agents/: learning algorithms and bots built on nets/ and envs/. Never imports arena."""
