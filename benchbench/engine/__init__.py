"""One pass of a run: suite → cells → records (suite, runner, executors, cell, training)."""
