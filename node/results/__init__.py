"""DICOM result objects: TID 1500 SR, SEG and the summary key image (pure)."""
