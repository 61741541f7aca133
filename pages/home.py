"""The site's front page: what FacePass is and where each kind of user goes."""

from django.shortcuts import render


def home(request):
    return render(request, "home.html")
