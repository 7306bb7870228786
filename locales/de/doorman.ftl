# doorman auf Deutsch. Dieselben Ids wie locales/en/doorman.ftl; die
# Texte enthalten kein < > & oder ".

## Auf jeder Seite

sign-out = Abmelden
sign-in-again = Erneut anmelden
back-to-sign-in = Zurück zur Anmeldung
back-to-app = Zurück zur Anwendung
cancel = Abbrechen
use-another-method = Andere Methode wählen
send-again = Erneut senden
send-again-wait = Erneut senden (in { $seconds } s)

## Wartezeiten

wait-seconds = { $n ->
    [one] 1 Sekunde
   *[other] { $n } Sekunden
}
wait-minutes = { $n ->
    [one] 1 Minute
   *[other] { $n } Minuten
}
wait-hours = { $n ->
    [one] 1 Stunde
   *[other] { $n } Stunden
}

## Anmeldung

login-title = Anmelden
login-username = Benutzername
login-password = Passwort
login-continue = Weiter
login-missing = Bitte geben Sie Benutzername und Passwort ein.
login-wrong = Benutzername oder Passwort ist falsch.
login-locked = Zu viele fehlgeschlagene Anmeldungen mit diesem Benutzernamen. Die Anmeldung ist bis { $until } UTC gesperrt (noch { $wait }).

## Methode wählen

choose-title = Bestätigen Sie, dass Sie es sind
choose-hello = Hallo { $user }. Wie sollen wir Ihnen den Anmeldecode schicken?
offer-sms = SMS an { $to }
offer-voice = Anruf an { $to }
offer-push = Auf meinem Telefon bestätigen
offer-totp = Code aus meiner Authenticator-App
offer-webauthn = Mit Passkey anmelden
no-factor-title = Kein zweiter Faktor eingerichtet
no-factor-text = Für Ihr Konto ist kein Weg eingerichtet, einen Anmeldecode zu empfangen. Bitten Sie Ihre Administration, eine Telefonnummer hinzuzufügen.
not-offered = Bitte wählen Sie eine der angebotenen Methoden.

## Code eingeben

code-title = Code eingeben
code-totp-notice = Öffnen Sie Ihre Authenticator-App und geben Sie den Code ein, den sie für { $app } anzeigt.
code-sent-sms = Wir haben einen Code per SMS an { $to } gesendet.
code-sent-voice = Wir rufen { $to } an und sagen Ihnen den Code an.
code-sent = Wir haben einen Code an { $to } gesendet.
code-label = Code
code-label-digits = { $n }-stelliger Code
code-verify = Bestätigen
call-instead = Stattdessen anrufen
push-instead = Stattdessen auf dem Telefon bestätigen
code-missing = Bitte geben Sie den erhaltenen Code ein.
code-none-waiting = Für Sie liegt kein Code bereit. Fordern Sie einen neuen an.
code-wrong = Der Code stimmt nicht. { $left ->
    [one] Noch 1 Versuch.
   *[other] Noch { $left } Versuche.
}
code-replayed = Dieser Code wurde bereits verwendet. Warten Sie auf den nächsten Code in Ihrer Authenticator-App.
code-expired = Der Code ist abgelaufen. Fordern Sie einen neuen an.
code-unchecked = Wir können den Code gerade nicht prüfen. Versuchen Sie es gleich noch einmal.
code-exhausted = Zu viele falsche Codes. Fordern Sie einen neuen Code an.
too-many-failed = Zu viele Fehlversuche. Versuchen Sie es in { $wait } erneut.

## Codes senden

resend-wait = { $seconds ->
    [one] Bitte warten Sie 1 Sekunde, bevor Sie einen weiteren Code anfordern.
   *[other] Bitte warten Sie { $seconds } Sekunden, bevor Sie einen weiteren Code anfordern.
}
totp-wait = { $seconds ->
    [one] Bitte warten Sie 1 Sekunde, bevor Sie neu beginnen.
   *[other] Bitte warten Sie { $seconds } Sekunden, bevor Sie neu beginnen.
}
cap-push = Zu viele Anmeldeanfragen an Ihr Telefon. Versuchen Sie es in { $wait } erneut.
cap-codes = Zu viele Codes angefordert. Versuchen Sie es in { $wait } erneut.
cap-totp = Zu viele Anmeldungen mit Ihrer Authenticator-App. Versuchen Sie es in { $wait } erneut.
number-invalid = An diese Nummer können keine Codes gesendet werden. Wenden Sie sich an Ihre Administration.
send-failed = Wir konnten den Code nicht senden. Wählen Sie eine andere Methode oder versuchen Sie es später erneut.

## Bestätigung auf dem Telefon

push-title = Auf dem Telefon bestätigen
push-tap = Wir haben eine Benachrichtigung an Ihr Telefon gesendet. Tippen Sie dort auf diese Zahl:
push-only-now = Tippen Sie nur darauf, wenn Sie sich gerade selbst anmelden. Jede andere Zahl bricht die Anmeldung ab.
push-duo = Bestätigen Sie die Anfrage in Duo Mobile.
push-approve = Bestätigen Sie die Anfrage auf Ihrem Telefon.
push-waiting = Warten auf Ihre Antwort · noch { $left }
push-approved-continue = Ich habe bestätigt – weiter
push-use-code = Stattdessen einen Code verwenden
push-denied = Die Anmeldung wurde auf Ihrem Telefon abgelehnt oder die falsche Zahl gewählt. Beginnen Sie neu oder wählen Sie eine andere Methode.
push-expired = Die Anfrage ist abgelaufen. Senden Sie eine neue oder wählen Sie eine andere Methode.
push-notice-title = Anmeldung bei { $app }
push-notice-text = Anmeldung bei { $app } von { $client }, { $browser }

## Authenticator-App hinzufügen

enroll-title = Authenticator-App hinzufügen
enroll-replacing = Damit ersetzen Sie Ihren bisherigen Authenticator.
enroll-scan = Scannen Sie diesen Code mit Ihrer Authenticator-App (Google Authenticator, Aegis, 1Password …).
enroll-key = Oder geben Sie diesen Schlüssel in der App ein:
enroll-current-label = Zuerst der Code, den Ihr bisheriger Authenticator gerade anzeigt
enroll-code-label = Dann den 6-stelligen Code, den die App anzeigt
enroll-code-label-new = Dann den 6-stelligen Code, den die neue App anzeigt
enroll-save = Speichern
enroll-wrong = Der Code stimmt nicht. Prüfen Sie, ob die App einen Code für dieses Konto anzeigt, und geben Sie den aktuellen ein.
enroll-current-wrong = Das ist nicht der aktuelle Code Ihres bisherigen Authenticators.
enroll-reauth-title = Erneut anmelden
enroll-reauth-text = Um eine Authenticator-App hinzuzufügen, melden Sie sich bitte zuerst erneut an: Es müssen Sie sein, nicht jemand, der diesen Browser offen vorgefunden hat.
enroll-admin-title = Wenden Sie sich an die Administration
enroll-admin-text = Authenticator-Apps werden hier von der Administration hinzugefügt: Bitten Sie sie, `doorman totp enroll` für Ihr Konto auszuführen.
enroll-not-saved-title = Nicht gespeichert
enroll-not-saved-text = Der Authenticator konnte nicht gespeichert werden. Bitten Sie Ihre Administration, ihn hinzuzufügen.
enroll-replaced-title = Authenticator ersetzt
enroll-replaced-text = Ab jetzt funktionieren nur noch Codes aus der neuen Authenticator-App.
enroll-added-title = Authenticator hinzugefügt
enroll-added-text = Ab jetzt können Sie sich mit einem Code aus Ihrer Authenticator-App anmelden.

## Abmelden

logout-title = Abmelden
logout-signed-in-as = Sie sind als { $user } angemeldet.
logout-question = Von { $app } in diesem Browser abmelden?
logout-stay = Angemeldet bleiben
signed-out-title = Abgemeldet
signed-out-text = Sie haben sich abgemeldet.

## Fehler

error-title = Da stimmt etwas nicht
refused-forbidden-title = Zugriff verweigert
refused-unavailable-title = Die Anwendung ist nicht erreichbar
error-bad_request = Die Anfrage konnte nicht verstanden werden.
error-too_large = Die Anfrage war zu groß.
error-request_timeout = Die Anfrage kam zu langsam an. Versuchen Sie es erneut.
error-csrf = Das Formular ist abgelaufen oder kam nicht von dieser Website. Gehen Sie zurück, laden Sie die Seite neu und versuchen Sie es erneut.
error-not_found = Diese Seite gibt es nicht.
error-temporarily_unavailable = Die Anmeldung ist vorübergehend nicht möglich. Versuchen Sie es in einer Minute erneut.
error-internal = Bei uns ist etwas schiefgelaufen.
error-forbidden = Sie haben keinen Zugriff auf diese Seite.
error-method_not_allowed = Diese Seite nimmt diese Art von Anfrage nicht an.
error-upstream_unavailable = Die Anwendung ist gerade nicht erreichbar. Versuchen Sie es gleich noch einmal.
error-upstream_timeout = Die Anwendung hat nicht rechtzeitig geantwortet. Versuchen Sie es gleich noch einmal.

## SMS und Anrufe

sms-code = Ihr Code für { $app } lautet { $code }
voice-code = Ihr Code für { $app } lautet { $digits }. Noch einmal: { $digits }.

## Passkeys, recovery codes, trusted devices
remember-device = Dieses Gerät für { $period } merken
passkey-noscript = Passkeys brauchen JavaScript; wählen Sie unten eine andere Methode.
recovery-summary = Telefon oder Schlüssel verloren? Einen Wiederherstellungscode verwenden
recovery-label = Wiederherstellungscode
recovery-submit = Wiederherstellungscode verwenden
passkey-sign-in = Mit Passkey anmelden

sign-in-again-to-change-passkeys = Um Ihre Passkeys zu ändern, melden Sie sich bitte erneut an: Es muss sichergestellt sein, dass Sie es sind und nicht jemand, der diesen Browser offen vorgefunden hat.
sign-in-again-to-make-recovery-codes = Um Wiederherstellungscodes zu erstellen, melden Sie sich bitte erneut an: Es muss sichergestellt sein, dass Sie es sind und nicht jemand, der diesen Browser offen vorgefunden hat.
period-days = { $n ->
    [one] 1 Tag
   *[other] { $n } Tage
}
period-hours = { $n ->
    [one] 1 Stunde
   *[other] { $n } Stunden
}
period-minutes = { $n ->
    [one] 1 Minute
   *[other] { $n } Minuten
}

## Passkeys page

passkeys-title = Passkeys
passkeys-heading = Passkeys und Sicherheitsschlüssel
date-time = { $day }. { $month } { $year }, { $time } UTC
month-1 = Januar
month-2 = Februar
month-3 = März
month-4 = April
month-5 = Mai
month-6 = Juni
month-7 = Juli
month-8 = August
month-9 = September
month-10 = Oktober
month-11 = November
month-12 = Dezember
passkey-added-on = Hinzugefügt am { $when }
passkey-last-used = zuletzt verwendet am { $when }
passkey-not-used = noch nicht verwendet
passkey-remove = Entfernen
passkey-remove-label = { $name } entfernen
passkeys-none = Sie haben noch keinen Passkey. Mit einem Passkey melden Sie sich über die Bildschirmsperre Ihres Geräts oder einen Sicherheitsschlüssel an – und er lässt sich nicht abphishen.
passkey-name-label = Name des neuen Passkeys
passkey-name-placeholder = z. B. Laptop, YubiKey
passkey-default-name = Passkey
passkey-add = Passkey hinzufügen
passkey-add-noscript = Zum Hinzufügen eines Passkeys wird JavaScript benötigt.
passkey-unsupported = Dieser Browser unterstützt keine Passkeys. Wählen Sie eine andere Methode.
passkey-prompt = Folgen Sie der Aufforderung Ihres Browsers …
passkey-no-answer = Der Passkey hat nicht geantwortet. Versuchen Sie es erneut oder wählen Sie eine andere Methode.
passkey-rejected = Dieser Passkey wurde nicht akzeptiert. Versuchen Sie es erneut oder wählen Sie eine andere Methode.
passkey-rejected-password = Dieser Passkey wurde nicht akzeptiert. Melden Sie sich stattdessen mit Ihrem Passwort an.
passkey-not-added = Der Passkey wurde nicht hinzugefügt. Bitte versuchen Sie es erneut.
passkey-not-yours = Dieser Passkey gehört nicht zu Ihrem Konto.
passkey-added = Passkey „{ $name }“ hinzugefügt.
passkey-removed = Passkey „{ $name }“ entfernt.

## Recovery codes page

recovery-title = Wiederherstellungscodes
recovery-new = Ihre neuen Wiederherstellungscodes. Bewahren Sie sie sicher auf: Jeder funktioniert genau einmal anstelle Ihres zweiten Faktors. Sie werden nur jetzt angezeigt; die alten gelten nicht mehr.
recovery-none = Sie haben keine Wiederherstellungscodes. Mit ihnen kommen Sie hinein, wenn Sie Ihr Telefon oder Ihren Sicherheitsschlüssel verloren haben.
recovery-unused = { $n ->
    [one] Sie haben { $count } unbenutzten Wiederherstellungscode.
   *[other] Sie haben { $count } unbenutzte Wiederherstellungscodes.
}
recovery-make = Wiederherstellungscodes erstellen
recovery-make-new = Neue Codes erstellen (die alten werden ungültig)
recovery-missing = Geben Sie einen Ihrer Wiederherstellungscodes ein.
recovery-wrong = Dieser Wiederherstellungscode ist falsch oder wurde bereits verwendet.
recovery-signed-in-title = Mit einem Wiederherstellungscode angemeldet
recovery-last = Das war Ihr letzter Wiederherstellungscode. Erstellen Sie jetzt neue, bevor Sie sie brauchen.
recovery-left = { $n ->
    [one] Es ist noch 1 Wiederherstellungscode übrig. Erstellen Sie bald neue.
   *[other] Es sind noch { $n } Wiederherstellungscodes übrig.
}
