*** Settings ***
Documentation     Downloads the closed claims history (the portal's Excel export) and
...               stages one record per closed claim: the labeled history models
...               are trained on.

Resource          ../resources/claims.resource

Suite Setup       Start Run And Log In To The Claims Portal    download_history
Suite Teardown    Close The Claims Portal And Finish The Run


*** Tasks ***
Download Closed Claims History
    [Documentation]    Export, read and stage the closed claims.
    ${export}=    Download Closed Claims History
    ${closed_claims}=    Read Closed Claims History    ${export}
    Stage Claims    ${closed_claims}    robot:download_history
