"""Release policy as pure functions: versions, tags, the Plan, what each tag should do, smoke verdicts. No I/O."""
