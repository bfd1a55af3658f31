// Package templates holds the files incidentbot ships inside its binary.
package templates
