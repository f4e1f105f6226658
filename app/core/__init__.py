"""The foundation every feature stands on: settings, the clock, fees and amounts, logging."""
