"""The app's scope: session, user, project, metadata and runs, and the one place they are stamped onto spans."""
