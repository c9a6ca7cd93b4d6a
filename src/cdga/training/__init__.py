"""Assembly, training and DomainBed records."""
