"""The OHIF web viewer over Orthanc on loopback: bundle, same-origin server and proxy."""
