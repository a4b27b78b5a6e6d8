"""rpaml sandbox applications the robots work on."""
