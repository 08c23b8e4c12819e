"""The domain of edoc: documents, agencies and their codes, the status lifecycle, the edXML codec.

Pure data and rules, no I/O: everything here can be used from a test, a worker or a script
without a database, a network or a file system.
"""
