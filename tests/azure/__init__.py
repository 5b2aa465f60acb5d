"""Tests of the Azure backend, with App Service simulated at the HTTP transport."""
