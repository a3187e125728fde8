"""Label parsing that a task owns (its file layout, its checks), beside the tasks that read it."""
