"""The X-Ray filter expression language: parsing, printing and evaluating expressions."""
