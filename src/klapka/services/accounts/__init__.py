"""Users and their access: accounts, passwords, sign-in, sessions, tokens, two-factor."""
