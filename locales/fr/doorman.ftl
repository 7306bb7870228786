# doorman en français. Mêmes identifiants que locales/en/doorman.ftl ; les
# textes ne contiennent ni < > & ni ".

## Sur chaque page

sign-out = Se déconnecter
sign-in-again = Se reconnecter
back-to-sign-in = Retour à la connexion
back-to-app = Retour à l’application
cancel = Annuler
use-another-method = Utiliser une autre méthode
send-again = Renvoyer
send-again-wait = Renvoyer (dans { $seconds } s)

## Délais d’attente

wait-seconds = { $n ->
    [one] { $n } seconde
   *[other] { $n } secondes
}
wait-minutes = { $n ->
    [one] { $n } minute
   *[other] { $n } minutes
}
wait-hours = { $n ->
    [one] { $n } heure
   *[other] { $n } heures
}

## Connexion

login-title = Se connecter
login-username = Nom d’utilisateur
login-password = Mot de passe
login-continue = Continuer
login-missing = Saisissez votre nom d’utilisateur et votre mot de passe.
login-wrong = Nom d’utilisateur ou mot de passe incorrect.
login-locked = Trop d’échecs de connexion avec ce nom d’utilisateur. La connexion est bloquée jusqu’à { $until } UTC (encore { $wait }).

## Choix de la méthode

choose-title = Confirmez votre identité
choose-hello = Bonjour { $user }. Comment souhaitez-vous recevoir votre code de connexion ?
offer-sms = SMS au { $to }
offer-voice = Appel vocal au { $to }
offer-push = Approuver sur mon téléphone
offer-totp = Code de mon application d’authentification
offer-webauthn = Utiliser votre clé d’accès
no-factor-title = Aucun second facteur configuré
no-factor-text = Votre compte n’a aucun moyen de recevoir un code de connexion. Demandez à votre administrateur d’ajouter un numéro de téléphone.
not-offered = Choisissez l’une des méthodes proposées.

## Saisie du code

code-title = Saisissez votre code
code-totp-notice = Ouvrez votre application d’authentification et saisissez le code qu’elle affiche pour { $app }.
code-sent-sms = Nous avons envoyé un code par SMS au { $to }.
code-sent-voice = Nous vous appelons au { $to } pour vous dicter le code.
code-sent = Nous avons envoyé un code au { $to }.
code-label = Code
code-label-digits = Code à { $n } chiffres
code-verify = Valider
call-instead = M’appeler plutôt
push-instead = Approuver plutôt sur mon téléphone
code-missing = Saisissez le code que vous avez reçu.
code-none-waiting = Aucun code ne vous attend. Demandez-en un nouveau.
code-wrong = Ce code est incorrect. { $left ->
    [one] Il vous reste { $left } essai.
   *[other] Il vous reste { $left } essais.
}
code-replayed = Ce code a déjà été utilisé. Attendez le code suivant dans votre application d’authentification.
code-expired = Ce code a expiré. Demandez-en un nouveau.
code-unchecked = Nous ne pouvons pas vérifier le code pour le moment. Réessayez dans un instant.
code-exhausted = Trop de codes erronés. Demandez un nouveau code.
too-many-failed = Trop de tentatives échouées. Réessayez dans { $wait }.

## Envoi des codes

resend-wait = { $seconds ->
    [one] Patientez { $seconds } seconde avant de demander un autre code.
   *[other] Patientez { $seconds } secondes avant de demander un autre code.
}
totp-wait = { $seconds ->
    [one] Patientez { $seconds } seconde avant de recommencer.
   *[other] Patientez { $seconds } secondes avant de recommencer.
}
cap-push = Trop de demandes de connexion envoyées à votre téléphone. Réessayez dans { $wait }.
cap-codes = Trop de codes demandés. Réessayez dans { $wait }.
cap-totp = Trop de connexions avec votre application d’authentification. Réessayez dans { $wait }.
number-invalid = Ce numéro ne peut pas recevoir de codes. Contactez votre administrateur.
send-failed = Nous n’avons pas pu envoyer le code. Essayez une autre méthode ou réessayez plus tard.

## Approbation sur le téléphone

push-title = Approuvez sur votre téléphone
push-tap = Nous avons envoyé une notification à votre téléphone. Touchez ce nombre dans la notification :
push-only-now = Ne le touchez que si vous êtes en train de vous connecter. Tout autre nombre arrête la connexion.
push-duo = Approuvez la demande dans Duo Mobile.
push-approve = Approuvez la demande sur votre téléphone.
push-waiting = En attente de votre réponse · encore { $left }
push-approved-continue = J’ai approuvé — continuer
push-use-code = Utiliser plutôt un code
push-denied = La connexion a été refusée sur votre téléphone, ou le mauvais nombre a été choisi. Recommencez ou utilisez une autre méthode.
push-expired = La demande a expiré. Envoyez-en une nouvelle ou utilisez une autre méthode.
push-notice-title = Connexion à { $app }
push-notice-text = Connexion à { $app } depuis { $client }, { $browser }

## Ajout d’une application d’authentification

enroll-title = Ajouter une application d’authentification
enroll-replacing = Elle remplacera votre application d’authentification actuelle.
enroll-scan = Scannez ce code avec votre application d’authentification (Google Authenticator, Aegis, 1Password…).
enroll-key = Ou saisissez cette clé dans l’application :
enroll-current-label = D’abord, le code qu’affiche maintenant votre application actuelle
enroll-code-label = Puis saisissez le code à 6 chiffres qu’elle affiche
enroll-code-label-new = Puis saisissez le code à 6 chiffres qu’affiche la nouvelle application
enroll-save = Enregistrer
enroll-wrong = Ce code est incorrect. Vérifiez que l’application affiche un code pour ce compte et saisissez le code actuel.
enroll-current-wrong = Ce n’est pas le code actuel de votre application d’authentification actuelle.
enroll-reauth-title = Se reconnecter
enroll-reauth-text = Pour ajouter une application d’authentification, reconnectez-vous d’abord : il faut que ce soit vous, et non quelqu’un qui a trouvé ce navigateur ouvert.
enroll-admin-title = Demandez à un administrateur
enroll-admin-text = Ici, les applications d’authentification sont ajoutées par un administrateur : demandez-lui d’exécuter `doorman totp enroll` pour votre compte.
enroll-not-saved-title = Non enregistrée
enroll-not-saved-text = L’application d’authentification n’a pas pu être enregistrée. Demandez à un administrateur de l’ajouter.
enroll-replaced-title = Application d’authentification remplacée
enroll-replaced-text = Désormais, seuls les codes de la nouvelle application fonctionnent.
enroll-added-title = Application d’authentification ajoutée
enroll-added-text = Désormais, vous pouvez vous connecter avec un code de votre application d’authentification.

## Déconnexion

logout-title = Se déconnecter
logout-signed-in-as = Vous êtes connecté en tant que { $user }.
logout-question = Se déconnecter de { $app } dans ce navigateur ?
logout-stay = Rester connecté
signed-out-title = Déconnecté
signed-out-text = Vous êtes déconnecté.

## Erreurs

error-title = Quelque chose ne va pas
refused-forbidden-title = Accès refusé
refused-unavailable-title = L’application est indisponible
error-bad_request = La requête n’a pas pu être comprise.
error-too_large = La requête était trop volumineuse.
error-request_timeout = La requête a mis trop de temps à arriver. Réessayez.
error-csrf = Le formulaire a expiré ou ne provient pas de ce site. Revenez en arrière, rechargez la page et réessayez.
error-not_found = Cette page n’existe pas.
error-temporarily_unavailable = La connexion est momentanément indisponible. Réessayez dans une minute.
error-internal = Un problème est survenu de notre côté.
error-forbidden = Vous n’avez pas accès à cette page.
error-method_not_allowed = Cette page n’accepte pas ce type de requête.
error-upstream_unavailable = L’application est injoignable pour le moment. Réessayez dans un instant.
error-upstream_timeout = L’application n’a pas répondu à temps. Réessayez dans un instant.

## SMS et appels

sms-code = Votre code { $app } est { $code }
voice-code = Votre code { $app } est { $digits }. Je répète : { $digits }.

## Passkeys, recovery codes, trusted devices
remember-device = Se souvenir de cet appareil pendant { $period }
passkey-noscript = Les clés d’accès nécessitent JavaScript ; choisissez une autre méthode ci-dessous.
recovery-summary = Téléphone ou clé perdu ? Utilisez un code de récupération
recovery-label = Code de récupération
recovery-submit = Utiliser le code de récupération
passkey-sign-in = Se connecter avec une clé d’accès

sign-in-again-to-change-passkeys = Pour modifier vos clés d’accès, reconnectez-vous d’abord : il faut s’assurer que c’est bien vous, et non quelqu’un qui a trouvé ce navigateur ouvert.
sign-in-again-to-make-recovery-codes = Pour créer des codes de récupération, reconnectez-vous d’abord : il faut s’assurer que c’est bien vous, et non quelqu’un qui a trouvé ce navigateur ouvert.
period-days = { $n ->
    [one] { $n } jour
   *[other] { $n } jours
}
period-hours = { $n ->
    [one] { $n } heure
   *[other] { $n } heures
}
period-minutes = { $n ->
    [one] { $n } minute
   *[other] { $n } minutes
}

## Passkeys page

passkeys-title = Clés d’accès
passkeys-heading = Clés d’accès et clés de sécurité
date-time = { $day } { $month } { $year } à { $time } UTC
month-1 = janvier
month-2 = février
month-3 = mars
month-4 = avril
month-5 = mai
month-6 = juin
month-7 = juillet
month-8 = août
month-9 = septembre
month-10 = octobre
month-11 = novembre
month-12 = décembre
passkey-added-on = Ajoutée le { $when }
passkey-last-used = dernière utilisation le { $when }
passkey-not-used = pas encore utilisée
passkey-remove = Supprimer
passkey-remove-label = Supprimer { $name }
passkeys-none = Vous n’avez pas encore de clé d’accès. Une clé d’accès vous connecte avec le verrouillage d’écran de votre appareil ou une clé de sécurité, et elle résiste à l’hameçonnage.
passkey-name-label = Nom de la nouvelle clé d’accès
passkey-name-placeholder = p. ex. Portable, YubiKey
passkey-default-name = Clé d’accès
passkey-add = Ajouter une clé d’accès
passkey-add-noscript = L’ajout d’une clé d’accès nécessite JavaScript.
passkey-unsupported = Ce navigateur ne prend pas en charge les clés d’accès. Choisissez une autre méthode.
passkey-prompt = Suivez les instructions de votre navigateur…
passkey-no-answer = La clé d’accès n’a pas répondu. Réessayez ou choisissez une autre méthode.
passkey-rejected = Cette clé d’accès n’a pas été acceptée. Réessayez ou choisissez une autre méthode.
passkey-rejected-password = Cette clé d’accès n’a pas été acceptée. Connectez-vous plutôt avec votre mot de passe.
passkey-not-added = La clé d’accès n’a pas été ajoutée. Réessayez.
passkey-not-yours = Cette clé d’accès n’est pas liée à votre compte.
passkey-added = Clé d’accès « { $name } » ajoutée.
passkey-removed = Clé d’accès « { $name } » supprimée.

## Recovery codes page

recovery-title = Codes de récupération
recovery-new = Voici vos nouveaux codes de récupération. Conservez-les en lieu sûr : chacun ne sert qu’une fois, à la place de votre second facteur. Ils ne sont affichés que maintenant ; les anciens ne fonctionnent plus.
recovery-none = Vous n’avez aucun code de récupération. Ils vous permettent de vous connecter si vous avez perdu votre téléphone ou votre clé de sécurité.
recovery-unused = { $n ->
    [one] Il vous reste { $count } code de récupération inutilisé.
   *[other] Il vous reste { $count } codes de récupération inutilisés.
}
recovery-make = Créer des codes de récupération
recovery-make-new = Créer de nouveaux codes (les anciens cesseront de fonctionner)
recovery-missing = Saisissez l’un de vos codes de récupération.
recovery-wrong = Ce code de récupération est incorrect ou a déjà été utilisé.
recovery-signed-in-title = Connecté avec un code de récupération
recovery-last = C’était votre dernier code de récupération. Créez-en de nouveaux dès maintenant, avant d’en avoir besoin.
recovery-left = { $n ->
    [one] Il vous reste { $n } code de récupération. Créez-en de nouveaux bientôt.
   *[other] Il vous reste { $n } codes de récupération.
}
