# doorman's words in English. English is the reference: every other file
# has the same message ids, and a message missing there falls back to this
# one. Texts never contain < > & or " (pages insert them as they are).

## Every page

sign-out = Sign out
sign-in-again = Sign in again
back-to-sign-in = Back to sign-in
back-to-app = Back to the application
cancel = Cancel
use-another-method = Use another method
send-again = Send again
# The button while the resend wait runs; the page counts it down.
send-again-wait = Send again (in { $seconds } s)

## How long until something may be tried again

wait-seconds = { $n ->
    [one] 1 second
   *[other] { $n } seconds
}
wait-minutes = { $n ->
    [one] 1 minute
   *[other] { $n } minutes
}
wait-hours = { $n ->
    [one] 1 hour
   *[other] { $n } hours
}

## Sign-in page

login-title = Sign in
login-username = Username
login-password = Password
login-continue = Continue
login-missing = Enter your username and password.
login-wrong = Incorrect username or password.
# Shown for any locked name, whether or not an account has it.
login-locked = Too many failed sign-ins with this username. Sign-in is locked until { $until } UTC (in { $wait }).

## Choosing how to get a code

choose-title = Verify it's you
choose-hello = Hello { $user }. How should we send your sign-in code?
offer-sms = Text message to { $to }
offer-voice = Voice call to { $to }
offer-push = Approve on my phone
offer-totp = Code from my authenticator app
offer-webauthn = Use your passkey
no-factor-title = No second factor set up
no-factor-text = Your account has no way to receive a sign-in code. Ask your administrator to add a phone number.
not-offered = Choose one of the methods offered.

## Entering a code

code-title = Enter your code
code-totp-notice = Open your authenticator app and enter the code it shows for { $app }.
code-sent-sms = We sent a code by text message to { $to }.
code-sent-voice = We sent a code by voice call to { $to }.
code-sent = We sent a code to { $to }.
code-label = Code
code-label-digits = { $n }-digit code
code-verify = Verify
call-instead = Call me instead
push-instead = Approve on my phone instead
code-missing = Enter the code you received.
code-none-waiting = There is no code waiting for you. Ask for a new one.
code-wrong = That code is not right. { $left ->
    [one] 1 attempt left.
   *[other] { $left } attempts left.
}
code-replayed = That code was already used. Wait for the next code in your authenticator app.
code-expired = That code has expired. Ask for a new one.
code-unchecked = We could not check the code right now. Try again in a moment.
code-exhausted = Too many wrong codes. Ask for a new code.
too-many-failed = Too many failed attempts. Try again in { $wait }.

## Sending codes

resend-wait = { $seconds ->
    [one] Please wait 1 second before asking for another code.
   *[other] Please wait { $seconds } seconds before asking for another code.
}
totp-wait = { $seconds ->
    [one] Please wait 1 second before starting again.
   *[other] Please wait { $seconds } seconds before starting again.
}
cap-push = Too many sign-in requests sent to your phone. Try again in { $wait }.
cap-codes = Too many codes requested. Try again in { $wait }.
cap-totp = Too many sign-ins with your authenticator app. Try again in { $wait }.
number-invalid = This number cannot receive codes. Contact your administrator.
send-failed = We could not send the code. Try another method, or try again later.

## Push approval

push-title = Approve on your phone
push-tap = We sent a notification to your phone. Tap this number there:
push-only-now = Only tap it if you are signing in right now. Any other number stops the sign-in.
push-duo = Approve the request in Duo Mobile.
push-approve = Approve the request on your phone.
# $left is the countdown (m:ss), updated by the page.
push-waiting = Waiting for your answer · { $left } left
push-approved-continue = I approved it — continue
push-use-code = Use a code instead
push-denied = The sign-in was denied on your phone, or the wrong number was picked. Start again, or use another method.
push-expired = The push request expired. Send a new one, or use another method.
push-notice-title = Sign-in to { $app }
push-notice-text = Sign-in to { $app } from { $client }, { $browser }

## Adding an authenticator app

enroll-title = Add an authenticator app
enroll-replacing = This replaces the authenticator you have now.
enroll-scan = Scan this code with your authenticator app (Google Authenticator, Aegis, 1Password, …).
enroll-key = Or type this key into the app:
enroll-current-label = First, the code your current authenticator shows now
enroll-code-label = Then enter the 6-digit code it shows
enroll-code-label-new = Then enter the 6-digit code the new app shows
enroll-save = Save
enroll-wrong = That code is not right. Check the app shows a code for this account, and try the current one.
enroll-current-wrong = That is not the current code of the authenticator you have now.
enroll-reauth-title = Sign in again
enroll-reauth-text = To add an authenticator app, sign in again first: it must be you, not someone who found this browser open.
enroll-admin-title = Ask an administrator
enroll-admin-text = Authenticator apps are added by an administrator here: ask them to run `doorman totp enroll` for your account.
enroll-not-saved-title = Not saved
enroll-not-saved-text = The authenticator could not be saved. Ask an administrator to add it.
enroll-replaced-title = Authenticator replaced
enroll-replaced-text = From now on only codes from the new authenticator app work.
enroll-added-title = Authenticator added
enroll-added-text = From now on you can sign in with a code from your authenticator app.

## Signing out

logout-title = Sign out
logout-signed-in-as = You are signed in as { $user }.
logout-question = Sign out of { $app } in this browser?
logout-stay = Stay signed in
signed-out-title = Signed out
signed-out-text = You have signed out.

## Errors

error-title = Something is not right
refused-forbidden-title = Access denied
refused-unavailable-title = The application is unavailable
error-bad_request = The request could not be understood.
error-too_large = The request was too large.
error-request_timeout = The request took too long to arrive. Try again.
error-csrf = The form expired or did not come from this site. Go back, reload the page and try again.
error-not_found = There is no such page.
error-temporarily_unavailable = Sign-in is temporarily unavailable. Try again in a minute.
error-internal = Something went wrong on our side.
error-forbidden = You do not have access to this page.
error-method_not_allowed = This page does not accept that kind of request.
error-upstream_unavailable = The application is not reachable right now. Try again in a moment.
error-upstream_timeout = The application did not answer in time. Try again in a moment.

## Text messages and calls

sms-code = Your { $app } code is { $code }
# $digits: the code's digits with spaces between, so they are read one by one.
voice-code = Your { $app } code is { $digits }. Again: { $digits }.

## Passkeys, recovery codes, trusted devices
remember-device = Remember this device for { $period }
passkey-noscript = Passkeys need JavaScript; choose another method below.
recovery-summary = Lost your phone or key? Use a recovery code
recovery-label = Recovery code
recovery-submit = Use the recovery code
passkey-sign-in = Sign in with a passkey

sign-in-again-to-change-passkeys = To change your passkeys, sign in again first: it must be you, not someone who found this browser open.
sign-in-again-to-make-recovery-codes = To make recovery codes, sign in again first: it must be you, not someone who found this browser open.
# How long "remember this device" lasts, for remember-device's $period.
period-days = { $n ->
    [one] 1 day
   *[other] { $n } days
}
period-hours = { $n ->
    [one] 1 hour
   *[other] { $n } hours
}
period-minutes = { $n ->
    [one] 1 minute
   *[other] { $n } minutes
}

## Passkeys page

passkeys-title = Passkeys
passkeys-heading = Passkeys and security keys
# A moment, as the passkeys page shows when a key was added and last used.
# $month is one of the month names below.
date-time = { $month } { $day }, { $year }, { $time } UTC
month-1 = January
month-2 = February
month-3 = March
month-4 = April
month-5 = May
month-6 = June
month-7 = July
month-8 = August
month-9 = September
month-10 = October
month-11 = November
month-12 = December
passkey-added-on = Added { $when }
passkey-last-used = last used { $when }
passkey-not-used = not used yet
passkey-remove = Remove
passkey-remove-label = Remove { $name }
passkeys-none = You have no passkey yet. A passkey signs you in with your device's screen lock or a security key, and cannot be phished.
passkey-name-label = Name for the new passkey
passkey-name-placeholder = e.g. Laptop, YubiKey
passkey-default-name = Passkey
passkey-add = Add a passkey
passkey-add-noscript = Adding a passkey needs JavaScript.
passkey-unsupported = This browser cannot use passkeys. Choose another method.
passkey-prompt = Follow your browser's prompt…
passkey-no-answer = The passkey did not answer. Try again, or choose another method.
passkey-rejected = That passkey was not accepted. Try again, or choose another method.
passkey-rejected-password = That passkey was not accepted. Sign in with your password instead.
passkey-not-added = The passkey was not added. Try again.
passkey-not-yours = That passkey is not on your account.
passkey-added = Passkey “{ $name }” added.
passkey-removed = Passkey “{ $name }” removed.

## Recovery codes page

recovery-title = Recovery codes
recovery-new = Your new recovery codes. Keep them somewhere safe: each works once, in place of your second factor. They are shown only now; the old ones no longer work.
recovery-none = You have no recovery codes. They get you in when you have lost your phone or security key.
# $count is $n, emphasised by the page.
recovery-unused = { $n ->
    [one] You have { $count } unused recovery code.
   *[other] You have { $count } unused recovery codes.
}
recovery-make = Make recovery codes
recovery-make-new = Make new codes (the old ones stop working)
recovery-missing = Enter one of your recovery codes.
recovery-wrong = That recovery code is not right, or was used before.
recovery-signed-in-title = Signed in with a recovery code
recovery-last = That was your last recovery code. Make new ones now, before you need them.
recovery-left = { $n ->
    [one] 1 recovery code is left. Make new ones soon.
   *[other] { $n } recovery codes are left.
}
