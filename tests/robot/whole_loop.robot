*** Settings ***
Documentation       The whole loop, end to end, twice, as a user runs it: ``rpaml demo``
...                 starts the sandbox portal and the scoring service, robots download
...                 the history and the model is trained, robots collect the new claims,
...                 a robot enriches them from the policy desktop application (on Xvfb),
...                 the pipeline validates and scores them, a simulated reviewer decides
...                 the escalated claims in the review queue, robots apply each decision in
...                 the portal in headless Chromium. The portal's own record of actions
...                 is the witness that no claim is acted on twice.

Library             Collections
Library             ${CURDIR}/DemoLoop.py    workdir=${OUTPUT DIR}/whole-loop
...                     open_claims=${OPEN_CLAIMS}    closed_claims=${CLOSED_CLAIMS}


*** Variables ***
${OPEN_CLAIMS}      40
${CLOSED_CLAIMS}    400


*** Test Cases ***
First Run Goes Through Every Stage
    [Documentation]    History, training, collection, processing, scoring and acting
    ...    each did their part, and every validated claim was acted on.
    ${summary}=    Run The Demo
    Should Be Equal As Integers    ${summary}[history][new]    ${CLOSED_CLAIMS}
    Should Be True    ${summary}[training][trained] and ${summary}[training][promoted]
    Should Be True    ${summary}[collected][new] > 0
    Every Collected Claim Should Be Enriched Or Quarantined    ${summary}
    ${processing}=    Get From Dictionary    ${summary}    processing
    Should Be Equal As Integers    ${summary}[scoring][scored]    ${processing}[validated]
    Escalations Should Have Been Reviewed    ${summary}
    Should Be Equal As Integers    ${summary}[acting][applied]    ${processing}[validated]

Second Run Collects Nothing Twice And Acts On No Claim Again
    [Documentation]    On the same data nothing is staged, scored or acted on again,
    ...    and no second model is trained.
    ${summary}=    Run The Demo
    Should Be Equal As Integers    ${summary}[collected][new]    0
    Should Be Equal As Integers    ${summary}[collected][revised]    0
    Should Be Equal As Integers    ${summary}[scoring][scored]    0
    Should Be Equal As Integers    ${summary}[acting][applied]    0
    Should Not Be True    ${summary}[training][trained]

Every Valid Claim Carries The Robot's Decision And Its Receipt Is Stored
    [Documentation]    The portal holds exactly one action per acted claim, equal to
    ...    the decision in the store, with the receipt the store keeps; quarantined
    ...    claims were left alone.
    ${first}=    Summary Of Run    1
    ${actions}=    Portal Actions By Claim
    ${acted}=    Records In State    acted
    Length Should Be    ${acted}    ${first}[processing][validated]
    Length Should Be    ${actions}    ${first}[processing][validated]
    FOR    ${record}    IN    @{acted}
        Claim Should Carry The Decision Once    ${actions}    ${record}
    END
    ${quarantined}=    Records In State    quarantined
    FOR    ${record}    IN    @{quarantined}
        Dictionary Should Not Contain Key    ${actions}    ${record}[claim_id]
        Should Not Be Empty    ${record}[reason]
    END

Every Run Of Every Kind Is Closed And In Lineage
    [Documentation]    Robot runs, processing, training, scoring, acting and delivery:
    ...    each run was closed and emitted valid OpenLineage events naming what it read
    ...    and wrote (the portal, the records, the model version).
    ${kinds}=    Every Run Should Have Valid Lineage Events
    FOR    ${kind}    IN    history    enrich    process    train    collect    score    review
    ...    act    deliver
        List Should Contain Value    ${kinds}    ${kind}
    END


*** Keywords ***
Claim Should Carry The Decision Once
    [Documentation]    The portal holds exactly one action for the claim: the robot's
    ...    decision, with the receipt the store keeps.
    [Arguments]    ${actions}    ${record}
    ${claim_actions}=    Get From Dictionary    ${actions}    ${record}[claim_id]
    Length Should Be    ${claim_actions}    1
    Should Be Equal    ${claim_actions}[0][action]    ${record}[decision]
    Should Be Equal    ${claim_actions}[0][receipt]    ${record}[receipt]

Escalations Should Have Been Reviewed
    [Documentation]    The shipped process queues its escalations for people: the
    ...    simulated reviewer decided every one of them (labels marked simulated), and
    ...    none is left in the queue.
    [Arguments]    ${summary}
    ${review}=    Get From Dictionary    ${summary}    review
    Should Be True    ${review}[reviewed] > 0
    Should Be Equal As Integers    ${review}[simulated]    ${review}[reviewed]
    Should Be Equal As Integers    ${review}[still_open]    0

Every Collected Claim Should Be Enriched Or Quarantined
    [Documentation]    The enrichment robot enriched every collected claim whose policy
    ...    exists (all of them were then processed) and quarantined the others.
    [Arguments]    ${summary}
    ${processing}=    Get From Dictionary    ${summary}    processing
    ${enrichment}=    Get From Dictionary    ${summary}    enrichment
    ${processed}=    Evaluate    $processing['validated'] + $processing['quarantined']
    Should Be Equal As Integers    ${enrichment}[enriched]    ${processed}
    ${handled}=    Evaluate    $processed + $enrichment['quarantined']
    Should Be Equal As Integers    ${handled}    ${summary}[collected][new]
    Should Be True    ${enrichment}[quarantined] > 0
