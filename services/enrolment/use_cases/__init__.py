"""The enrolment service's use cases, each a small collaborator receiving only what it uses
(composed once in :mod:`services.enrolment.bootstrap`): who may call what (:mod:`.access`),
the practice settings and the employee directory (:mod:`.directory`), the wizard
(:mod:`.wizard`) and the audit trail (:mod:`.audit`). The factors an employee adds are their
own modules, :mod:`services.enrolment.factors`."""
