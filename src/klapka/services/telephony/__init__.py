"""Calls: the simulator, registrations, the SIP core's snapshot, trunks, voicemail."""
