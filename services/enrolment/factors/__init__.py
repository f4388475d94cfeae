"""Second factors as the enrolment service keeps them: the credential writes every use case
shares (:mod:`.credentials`), and one module per factor an employee adds themselves (``code``
for SMS/e-mail, ``recovery``, ``passkey``), each with its use case and how it shows in the
employee's list (:mod:`.listing`). The authenticator app is enrolled by the wizard."""
