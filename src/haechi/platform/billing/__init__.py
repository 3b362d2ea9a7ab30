"""Billing: card subscriptions through Toss Payments' billing-key (자동결제) API."""
