"""Module-level attributes every result object copies from the CT it belongs to."""

from __future__ import annotations

import copy
from datetime import datetime

from pydicom import Dataset

# Patient, Clinical Trial Subject, General Study and Patient Study modules (PS3.3 C.7.1.1,
# C.7.1.3, C.7.2.1, C.7.2.2): the result objects belong to the CT's patient and study.
PATIENT_STUDY_KEYWORDS = (
    "PatientName", "PatientID", "IssuerOfPatientID", "IssuerOfPatientIDQualifiersSequence",
    "PatientBirthDate", "PatientBirthTime", "PatientSex", "OtherPatientIDsSequence",
    "PatientComments", "PatientIdentityRemoved", "DeidentificationMethod",
    "DeidentificationMethodCodeSequence", "PatientSpeciesDescription", "PatientBreedDescription",
    "ResponsiblePerson", "ResponsibleOrganization",
    "ClinicalTrialSponsorName", "ClinicalTrialProtocolID", "ClinicalTrialProtocolName",
    "ClinicalTrialSiteID", "ClinicalTrialSiteName", "ClinicalTrialSubjectID",
    "ClinicalTrialSubjectReadingID",
    "StudyInstanceUID", "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID",
    "AccessionNumber", "IssuerOfAccessionNumberSequence", "StudyDescription",
    "ProcedureCodeSequence", "AdmittingDiagnosesDescription",
    "PatientAge", "PatientSize", "PatientWeight", "AdditionalPatientHistory",
)


def copy_patient_study(source: Dataset, target: Dataset) -> None:
    """Copy the patient and study modules of ``source`` into ``target``.

    The character set comes along when ``source`` declares one, so that names in
    other alphabets stay readable.
    """
    if "SpecificCharacterSet" in source:
        target.SpecificCharacterSet = copy.deepcopy(source.SpecificCharacterSet)
    for keyword in PATIENT_STUDY_KEYWORDS:
        if keyword in source:
            setattr(target, keyword, copy.deepcopy(source[keyword].value))


def dicom_date_time(moment: datetime) -> tuple[str, str]:
    """DA and TM strings of a moment."""
    return moment.strftime("%Y%m%d"), moment.strftime("%H%M%S")


def series_description(kind: str, source: Dataset) -> str:
    """Series Description of a result series, naming the CT series it comes from."""
    number = source.get("SeriesNumber")
    text = f"vfnode {kind}"
    if number is not None and str(number) != "":
        text += f" (CT series {number})"
    return text[:64]


def stamp(dataset: Dataset, moment: datetime) -> None:
    """Set the creation (and capture) date and time to ``moment``, not to "now".

    highdicom stamps the wall clock; with a fixed ``moment`` the same result gives the
    same bytes.
    """
    date, time = dicom_date_time(moment)
    dataset.InstanceCreationDate, dataset.InstanceCreationTime = date, time
    if "DateOfSecondaryCapture" in dataset:
        dataset.DateOfSecondaryCapture, dataset.TimeOfSecondaryCapture = date, time
    for item in dataset.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in item:
            item.ContributionDateTime = moment.strftime("%Y%m%d%H%M%S")
