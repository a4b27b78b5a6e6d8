*** Settings ***
Documentation     The simulated reviewer: works the review queue in the review app like a
...               person, by keyboard alone, and answers each escalated claim with the
...               portal's investigation result, wrong on purpose at RPAML_REVIEW_ERROR_RATE.
...               Its labels are marked simulated by the review app.

Library           rpaml_robots.review_desk.ReviewDesk
...               error_rate=%{RPAML_REVIEW_ERROR_RATE=0.1}
...               seed=%{RPAML_REVIEW_SEED=0}

Suite Setup       Open The Review App
Suite Teardown    Close The Review App


*** Tasks ***
Review Escalated Claims
    [Documentation]    Take the items in the queue's order and decide each one until the
    ...    queue is empty.
    ${claim}=    Start Reviewing
    WHILE    $claim    limit=NONE
        ${result}=    Investigation Result    ${claim}
        ${claim}=    Decide By Keyboard    ${result}
    END
