"""The core model: events, errors, counters, tasks and the component shape every long-lived part has."""
