*** Settings ***
Documentation     Downloads the closed claims history (the portal's Excel export) and
...               stages one record per closed claim: the labeled history models
...               are trained on, and the outcomes of the claims rpaml decided. Each run
...               takes the claims closed since the business date of the last successful
...               run (that day included; staging the same claim again changes nothing).

Resource          ../resources/claims.resource

Suite Setup       Start Run And Log In To The Claims Portal    download_history
Suite Teardown    Close The Claims Portal And Finish The Run


*** Tasks ***
Download Closed Claims History
    [Documentation]    Export, read and stage the claims closed since the last successful
    ...    run (the whole history the first time), then remember where this run got to.
    ${since}=    History Watermark
    ${through}=    Portal Business Date
    ${export}=    Download Closed Claims History    closed_since=${since}
    ${closed_claims}=    Read Closed Claims History    ${export}
    Stage Claims    ${closed_claims}    robot:download_history
    Add Run Detail    history_watermark    ${through}
