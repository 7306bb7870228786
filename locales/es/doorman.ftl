# doorman en español. Los mismos identificadores que locales/en/doorman.ftl;
# los textos no contienen < > & ni ".

## En todas las páginas

sign-out = Cerrar sesión
sign-in-again = Volver a iniciar sesión
back-to-sign-in = Volver al inicio de sesión
back-to-app = Volver a la aplicación
cancel = Cancelar
use-another-method = Usar otro método
send-again = Reenviar
send-again-wait = Reenviar (en { $seconds } s)

## Tiempos de espera

wait-seconds = { $n ->
    [one] 1 segundo
   *[other] { $n } segundos
}
wait-minutes = { $n ->
    [one] 1 minuto
   *[other] { $n } minutos
}
wait-hours = { $n ->
    [one] 1 hora
   *[other] { $n } horas
}

## Inicio de sesión

login-title = Iniciar sesión
login-username = Nombre de usuario
login-password = Contraseña
login-continue = Continuar
login-missing = Introduce tu nombre de usuario y tu contraseña.
login-wrong = El nombre de usuario o la contraseña no son correctos.
login-locked = Demasiados intentos fallidos con este nombre de usuario. El inicio de sesión está bloqueado hasta las { $until } UTC (faltan { $wait }).

## Elegir un método

choose-title = Confirma que eres tú
choose-hello = Hola, { $user }. ¿Cómo quieres recibir tu código de inicio de sesión?
offer-sms = SMS al { $to }
offer-voice = Llamada al { $to }
offer-push = Aprobar en mi teléfono
offer-totp = Código de mi app de autenticación
offer-webauthn = Usar tu llave de acceso
no-factor-title = No hay segundo factor configurado
no-factor-text = Tu cuenta no tiene ninguna forma de recibir un código de inicio de sesión. Pide a tu administrador que añada un número de teléfono.
not-offered = Elige uno de los métodos disponibles.

## Introducir el código

code-title = Introduce tu código
code-totp-notice = Abre tu app de autenticación e introduce el código que muestra para { $app }.
code-sent-sms = Te hemos enviado un código por SMS al { $to }.
code-sent-voice = Te estamos llamando al { $to } para dictarte el código.
code-sent = Te hemos enviado un código al { $to }.
code-label = Código
code-label-digits = Código de { $n } dígitos
code-verify = Verificar
call-instead = Prefiero una llamada
push-instead = Prefiero aprobar en mi teléfono
code-missing = Introduce el código que has recibido.
code-none-waiting = No tienes ningún código pendiente. Pide uno nuevo.
code-wrong = Ese código no es correcto. { $left ->
    [one] Te queda 1 intento.
   *[other] Te quedan { $left } intentos.
}
code-replayed = Ese código ya se ha usado. Espera al siguiente código de tu app de autenticación.
code-expired = Ese código ha caducado. Pide uno nuevo.
code-unchecked = Ahora mismo no podemos comprobar el código. Vuelve a intentarlo en un momento.
code-exhausted = Demasiados códigos incorrectos. Pide un código nuevo.
too-many-failed = Demasiados intentos fallidos. Vuelve a intentarlo dentro de { $wait }.

## Envío de códigos

resend-wait = { $seconds ->
    [one] Espera 1 segundo antes de pedir otro código.
   *[other] Espera { $seconds } segundos antes de pedir otro código.
}
totp-wait = { $seconds ->
    [one] Espera 1 segundo antes de volver a empezar.
   *[other] Espera { $seconds } segundos antes de volver a empezar.
}
cap-push = Se han enviado demasiadas solicitudes de inicio de sesión a tu teléfono. Vuelve a intentarlo dentro de { $wait }.
cap-codes = Se han pedido demasiados códigos. Vuelve a intentarlo dentro de { $wait }.
cap-totp = Demasiados inicios de sesión con tu app de autenticación. Vuelve a intentarlo dentro de { $wait }.
number-invalid = Este número no puede recibir códigos. Ponte en contacto con tu administrador.
send-failed = No hemos podido enviar el código. Prueba otro método o vuelve a intentarlo más tarde.

## Aprobación en el teléfono

push-title = Aprueba en tu teléfono
push-tap = Hemos enviado una notificación a tu teléfono. Toca allí este número:
push-only-now = Tócalo solo si estás iniciando sesión ahora mismo. Cualquier otro número detiene el inicio de sesión.
push-duo = Aprueba la solicitud en Duo Mobile.
push-approve = Aprueba la solicitud en tu teléfono.
push-waiting = Esperando tu respuesta · quedan { $left }
push-approved-continue = Ya la he aprobado: continuar
push-use-code = Prefiero usar un código
push-denied = El inicio de sesión se rechazó en tu teléfono o se eligió un número equivocado. Empieza de nuevo o usa otro método.
push-expired = La solicitud ha caducado. Envía una nueva o usa otro método.
push-notice-title = Inicio de sesión en { $app }
push-notice-text = Inicio de sesión en { $app } desde { $client }, { $browser }

## Añadir una app de autenticación

enroll-title = Añadir una app de autenticación
enroll-replacing = Sustituirá a la app de autenticación que tienes ahora.
enroll-scan = Escanea este código con tu app de autenticación (Google Authenticator, Aegis, 1Password…).
enroll-key = O escribe esta clave en la app:
enroll-current-label = Primero, el código que muestra ahora tu app de autenticación actual
enroll-code-label = Después, introduce el código de 6 dígitos que muestra
enroll-code-label-new = Después, introduce el código de 6 dígitos que muestra la nueva app
enroll-save = Guardar
enroll-wrong = Ese código no es correcto. Comprueba que la app muestra un código para esta cuenta e introduce el actual.
enroll-current-wrong = Ese no es el código actual de la app de autenticación que tienes ahora.
enroll-reauth-title = Vuelve a iniciar sesión
enroll-reauth-text = Para añadir una app de autenticación, vuelve a iniciar sesión primero: tienes que ser tú, no alguien que encontró este navegador abierto.
enroll-admin-title = Pídeselo a un administrador
enroll-admin-text = Aquí las apps de autenticación las añade un administrador: pídele que ejecute `doorman totp enroll` para tu cuenta.
enroll-not-saved-title = No se ha guardado
enroll-not-saved-text = No se ha podido guardar la app de autenticación. Pide a un administrador que la añada.
enroll-replaced-title = App de autenticación sustituida
enroll-replaced-text = A partir de ahora solo funcionan los códigos de la nueva app de autenticación.
enroll-added-title = App de autenticación añadida
enroll-added-text = A partir de ahora puedes iniciar sesión con un código de tu app de autenticación.

## Cerrar sesión

logout-title = Cerrar sesión
logout-signed-in-as = Has iniciado sesión como { $user }.
logout-question = ¿Cerrar la sesión de { $app } en este navegador?
logout-stay = Mantener la sesión
signed-out-title = Sesión cerrada
signed-out-text = Has cerrado la sesión.

## Errores

error-title = Algo no va bien
refused-forbidden-title = Acceso denegado
refused-unavailable-title = La aplicación no está disponible
error-bad_request = No se ha podido entender la solicitud.
error-too_large = La solicitud era demasiado grande.
error-request_timeout = La solicitud ha tardado demasiado en llegar. Vuelve a intentarlo.
error-csrf = El formulario ha caducado o no procede de este sitio. Vuelve atrás, recarga la página e inténtalo de nuevo.
error-not_found = Esta página no existe.
error-temporarily_unavailable = El inicio de sesión no está disponible en este momento. Vuelve a intentarlo dentro de un minuto.
error-internal = Algo ha fallado por nuestra parte.
error-forbidden = No tienes acceso a esta página.
error-method_not_allowed = Esta página no acepta este tipo de solicitud.
error-upstream_unavailable = Ahora mismo no se puede acceder a la aplicación. Vuelve a intentarlo en un momento.
error-upstream_timeout = La aplicación no ha respondido a tiempo. Vuelve a intentarlo en un momento.

## SMS y llamadas

sms-code = Tu código de { $app } es { $code }
voice-code = Tu código de { $app } es { $digits }. Repito: { $digits }.

## Passkeys, recovery codes, trusted devices
remember-device = Recordar este dispositivo durante { $period }
passkey-noscript = Las llaves de acceso necesitan JavaScript; elige otro método abajo.
recovery-summary = ¿Perdiste el teléfono o la llave? Usa un código de recuperación
recovery-label = Código de recuperación
recovery-submit = Usar el código de recuperación
passkey-sign-in = Iniciar sesión con una llave de acceso

sign-in-again-to-change-passkeys = Para cambiar tus llaves de acceso, vuelve a iniciar sesión primero: tenemos que asegurarnos de que eres tú y no alguien que encontró este navegador abierto.
sign-in-again-to-make-recovery-codes = Para crear códigos de recuperación, vuelve a iniciar sesión primero: tenemos que asegurarnos de que eres tú y no alguien que encontró este navegador abierto.
period-days = { $n ->
    [one] 1 día
   *[other] { $n } días
}
period-hours = { $n ->
    [one] 1 hora
   *[other] { $n } horas
}
period-minutes = { $n ->
    [one] 1 minuto
   *[other] { $n } minutos
}

## Passkeys page

passkeys-title = Llaves de acceso
passkeys-heading = Llaves de acceso y llaves de seguridad
date-time = { $day } de { $month } de { $year }, { $time } UTC
month-1 = enero
month-2 = febrero
month-3 = marzo
month-4 = abril
month-5 = mayo
month-6 = junio
month-7 = julio
month-8 = agosto
month-9 = septiembre
month-10 = octubre
month-11 = noviembre
month-12 = diciembre
passkey-added-on = Añadida el { $when }
passkey-last-used = último uso el { $when }
passkey-not-used = aún sin usar
passkey-remove = Quitar
passkey-remove-label = Quitar { $name }
passkeys-none = Todavía no tienes ninguna llave de acceso. Una llave de acceso te permite iniciar sesión con el bloqueo de pantalla de tu dispositivo o con una llave de seguridad, y no se puede robar con phishing.
passkey-name-label = Nombre de la nueva llave de acceso
passkey-name-placeholder = p. ej. Portátil, YubiKey
passkey-default-name = Llave de acceso
passkey-add = Añadir una llave de acceso
passkey-add-noscript = Para añadir una llave de acceso se necesita JavaScript.
passkey-unsupported = Este navegador no admite llaves de acceso. Elige otro método.
passkey-prompt = Sigue las indicaciones de tu navegador…
passkey-no-answer = La llave de acceso no respondió. Inténtalo de nuevo o elige otro método.
passkey-rejected = No se aceptó esa llave de acceso. Inténtalo de nuevo o elige otro método.
passkey-rejected-password = No se aceptó esa llave de acceso. Inicia sesión con tu contraseña.
passkey-not-added = No se añadió la llave de acceso. Inténtalo de nuevo.
passkey-not-yours = Esa llave de acceso no está en tu cuenta.
passkey-added = Llave de acceso «{ $name }» añadida.
passkey-removed = Llave de acceso «{ $name }» quitada.

## Recovery codes page

recovery-title = Códigos de recuperación
recovery-new = Tus nuevos códigos de recuperación. Guárdalos en un lugar seguro: cada uno sirve una sola vez, en lugar de tu segundo factor. Solo se muestran ahora; los anteriores ya no funcionan.
recovery-none = No tienes códigos de recuperación. Te permiten entrar si pierdes el teléfono o la llave de seguridad.
recovery-unused = { $n ->
    [one] Tienes { $count } código de recuperación sin usar.
   *[other] Tienes { $count } códigos de recuperación sin usar.
}
recovery-make = Crear códigos de recuperación
recovery-make-new = Crear códigos nuevos (los anteriores dejarán de funcionar)
recovery-missing = Introduce uno de tus códigos de recuperación.
recovery-wrong = Ese código de recuperación no es correcto o ya se usó.
recovery-signed-in-title = Sesión iniciada con un código de recuperación
recovery-last = Era tu último código de recuperación. Crea códigos nuevos ahora, antes de necesitarlos.
recovery-left = { $n ->
    [one] Te queda 1 código de recuperación. Crea códigos nuevos pronto.
   *[other] Te quedan { $n } códigos de recuperación.
}
