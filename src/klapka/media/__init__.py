"""The media service: voicemail deposit and retrieval behind Kamailio (SIP UAS, G.711 RTP,
DTMF, prompts). See docs/voicemail.md."""
