"""Chart importers: files musicians have (iReal Pro, JCPC, MusicXML) to `Tune`s; see `library`."""
