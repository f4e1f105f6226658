// The portal's USWDS scripts: only the behaviours its markup needs (the full uswds.min.js starts all 22).
// Mirrors packages/uswds-core/src/js/start.js.
const accordion = require("@uswds/uswds/js/usa-accordion");
const button = require("@uswds/uswds/js/usa-button");
const navigation = require("@uswds/uswds/js/usa-header");
const skipnav = require("@uswds/uswds/js/usa-skipnav");

window.uswdsPresent = true;

const components = { accordion, button, navigation, skipnav };

const initComponents = () => {
  Object.values(components).forEach((behavior) => behavior.on(document.body));
};

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", initComponents, { once: true });
} else {
  initComponents();
}
