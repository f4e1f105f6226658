// Sends the sign-out form to the identity provider at once (the button is there without JavaScript).
document.getElementById("provider-logout").submit();
